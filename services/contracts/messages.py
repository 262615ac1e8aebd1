"""Chinese for the domain's own error messages (English template → Chinese template).

Registered with the kit (`kit.i18n.register`) when `services.contracts` is imported, so every service
answers a county clerk in Chinese (`Accept-Language: zh`, the default). `{name}` carries a value
over. A message not listed here stays English; add the ones clerks meet most.
"""

from services.kit import i18n

MESSAGES = {
    # Resident ID numbers (GB 11643), wherever they are read.
    "check digit is wrong": "身份证号校验位错误",
    "must be 18 characters, got {n}": "身份证号应为 18 位，实际 {n} 位",
    "must be 17 digits followed by a digit or X": "身份证号应为 17 位数字加 1 位数字或 X",
    "unknown province code {code}": "未知的省份代码 {code}",
    "birth date {date} is not a real date": "出生日期 {date} 不存在",
    "birth date {date} is impossible": "出生日期 {date} 不合理",
    "The bank card number's check digit (Luhn) is wrong": "银行卡号校验位（Luhn）错误",
    # Students, households, schools.
    "No such student": "未找到该学生",
    "No such household": "未找到该家庭",
    "No school {code}": "未找到学校 {code}",
    "Unknown household": "未知的家庭",
    "Unknown area {code}": "未知的行政区划 {code}",
    "Unknown village {code}": "未知的村（社区） {code}",
    "Village {code} is outside your area": "村（社区） {code} 不在您的管辖范围内",
    "A student with this ID number is already registered": "该身份证号的学生已登记",
    "Another household has this platform_id": "已有其他家庭使用此 platform_id",
    "A household with platform_id {id} already exists": "platform_id 为 {id} 的家庭已存在",
    "School {code} already exists": "学校 {code} 已存在",
    "effective_date is implausible": "生效日期不合理",
    "effective_date is before the student's last change ({date})": "生效日期早于该学生上一次变动（{date}）",
    "Only county, school and admin users register students": "只有县级、学校和管理员用户可以登记学生",
    "Only county, school and admin users change students": "只有县级、学校和管理员用户可以修改学生信息",
    "Only county, school and admin users change enrollment": "只有县级、学校和管理员用户可以办理学籍变动",
    "Only county, school and admin users write households": "只有县级、学校和管理员用户可以填写家庭信息",
    "Only county and school users may reveal ID numbers": "只有县级和学校用户可以查看完整身份证号",
    "You may not manage schools in this area": "您无权管理该地区的学校",
}

i18n.register(MESSAGES)
