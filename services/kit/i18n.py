"""Error messages in the caller's language: Chinese unless `Accept-Language` asks for English.

`LanguageMiddleware` reads the request's `Accept-Language` once into a context variable; the problem
renderer (`kit.errors.problem`) then speaks that language: titles by status, pydantic's validation
messages by their error `type` (with the numbers of their `ctx`), and our own messages through a
catalogue of English templates (`register`): `"must be 18 characters, got {n}"` →
`"应为 18 位，实际 {n} 位"`. A message the catalogue does not know stays English. The kit holds only
words of its own (HTTP, validation, tokens); a domain's messages are registered by its package
(`services/contracts/messages.py`). Stdlib only.
"""

import contextvars
import re
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

ZH, EN = "zh", "en"
DEFAULT = ZH  # a county clerk's client sends nothing: Chinese
CONTENT_LANGUAGE = {ZH: "zh-CN", EN: "en"}
_current: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=DEFAULT)

TITLES = {
    400: "请求有误",
    401: "未登录或令牌无效",
    403: "无权执行此操作",
    404: "未找到",
    405: "不支持该请求方法",
    406: "无法提供所要求的格式",
    409: "与现有数据冲突",
    410: "已不存在",
    412: "前提条件不满足",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "输入有误",
    428: "缺少前提条件",
    429: "请求过于频繁",
    500: "服务器内部错误",
    502: "上游服务出错",
    503: "服务暂不可用",
    504: "上游服务超时",
}

# pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/), with `ctx`.
VALIDATION = {
    "missing": "必填",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为文本",
    "string_too_short": "长度至少 {min_length} 个字符",
    "string_too_long": "长度最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_unicode": "应为有效的 Unicode 文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数，不能有小数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "bool_type": "应为布尔值（true 或 false）",
    "bool_parsing": "应为布尔值（true 或 false）",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应大于或等于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应小于或等于 {le}",
    "multiple_of": "应为 {multiple_of} 的倍数",
    "finite_number": "应为有限数",
    "enum": "应为以下之一：{expected}",
    "literal_error": "应为以下之一：{expected}",
    "date_type": "应为日期",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_inexact": "应为日期，不能带时间",
    "date_past": "应为过去的日期",
    "date_future": "应为将来的日期",
    "datetime_type": "应为日期时间",
    "datetime_parsing": "应为日期时间（ISO 8601）",
    "datetime_from_date_parsing": "应为日期时间（ISO 8601）",
    "timezone_aware": "日期时间应带时区",
    "timezone_naive": "日期时间不应带时区",
    "time_parsing": "应为时间（HH:MM）",
    "uuid_type": "应为 UUID",
    "uuid_parsing": "应为 UUID",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "dataclass_type": "应为对象",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON",
    "bytes_type": "应为二进制内容",
    "url_parsing": "应为网址",
    "url_type": "应为网址",
    "value_error": "值无效",
    "assertion_error": "值无效",
    "union_tag_invalid": "类型标记无效",
    "union_tag_not_found": "缺少类型标记",
    "frozen_field": "不可修改",
    "none_required": "应为空",
    "is_instance_of": "类型不正确",
}

# The kit's own messages (no domain words): English template → Chinese template.
KIT_MESSAGES = {
    "Missing or invalid token": "未提供令牌或令牌无效",
    "Internal error; it has been logged": "服务器内部错误，已记录",
    "The database is unavailable; try again shortly": "数据库暂不可用，请稍后重试",
    "The record has changed (now version {current}); reload and try again": (
        "记录已被他人修改（现为第 {current} 版），请刷新后重试"
    ),
    "version is required (in the body or If-Match)": "缺少 version（请求体中或 If-Match 头中）",
    "If-Match must be a version number": "If-Match 应为版本号或 ETag",
    "The record has changed since the ETag given in If-Match; reload and try again": (
        "记录在 If-Match 所给的 ETag 之后已被修改，请刷新后重试"
    ),
    "NUL characters are not allowed in the path or query": "路径或查询参数中不允许出现 NUL 字符",
    "NUL character": "NUL 字符",
    "The records changed while this was being decided; nothing was saved. Try again.": (
        "处理期间数据发生了变化，未保存任何内容，请重试"
    ),
    "A value is out of range": "有数值超出范围",
    "value out of range": "数值超出范围",
    "Not Found": "未找到",
    "Method Not Allowed": "不支持该请求方法",
    "Forbidden": "无权执行此操作",
    "Conflict": "与现有数据冲突",
    "Unprocessable Entity": "输入有误",
    "Unprocessable Content": "输入有误",
    "Too Many Requests": "请求过于频繁",
    "Service Unavailable": "服务暂不可用",
    "Request body is too large": "请求内容过大",
}

_templates: list[tuple[re.Pattern[str], str]] = []
_exact: dict[str, str] = {}


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$", re.DOTALL)


def register(messages: Mapping[str, str]) -> None:
    """Add English → Chinese message templates (`{name}` marks a value carried over)."""
    for english, chinese in messages.items():
        if "{" in english:
            _templates.append((_compile(english), chinese))
        else:
            _exact[english] = chinese


register(KIT_MESSAGES)


# Chinese labels of enumerations, by enum name: registered by the package that owns the words.
_labels: dict[str, dict[str, str]] = {}


def register_labels(vocabularies: Mapping[str, Mapping[str, str]]) -> None:
    """Add the Chinese labels of enumerations: enum name → value → label."""
    for name, labels in vocabularies.items():
        _labels[name] = dict(labels)


def enum_labels(values: list[str], name: str | None = None) -> dict[str, str] | None:
    """Return the Chinese labels of an enumeration's values: by its name, else by its values."""
    wanted = set(values)
    if name in _labels and wanted <= set(_labels[name]):
        return {value: _labels[name][value] for value in values}
    for labels in _labels.values():
        if wanted and wanted == set(labels):
            return {value: labels[value] for value in values}
    for labels in _labels.values():  # a narrowed enum (Literal of some values): all of one vocabulary
        if len(wanted) > 1 and wanted < set(labels):
            return {value: labels[value] for value in values}
    return None


def negotiate(accept_language: str | None) -> str:
    """Return `zh` or `en`, whichever the header prefers (RFC 9110 q-values); Chinese by default."""
    best, best_q = DEFAULT, -1.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in (ZH, EN) and q > best_q and q > 0:
            best, best_q = primary, q
    return best


def current() -> str:
    """The language of the request being answered (`zh` outside one)."""
    return _current.get()


def use(language: str) -> contextvars.Token[str]:
    """Answer in `language` from now on in this context (tests, background work for a request)."""
    return _current.set(language if language in (ZH, EN) else DEFAULT)


def translate(message: str, language: str | None = None) -> str:
    """Return a message in the language (`current()` by default); unknown ones stay as they are."""
    if (language or current()) != ZH or not message:
        return message
    if message in _exact:
        return _exact[message]
    for pattern, chinese in _templates:
        if match := pattern.match(message):
            values = {k: translate(v, ZH) for k, v in match.groupdict().items()}
            return chinese.format(**values)
    # "field: message" (a 422's detail) translates its message.
    head, sep, tail = message.partition(": ")
    if sep and " " not in head and (inner := translate(tail, ZH)) != tail:
        return f"{head}：{inner}"
    return message


def title(status: int, english: str, language: str | None = None) -> str:
    """Return a problem's title: the status's phrase, in the language."""
    if (language or current()) != ZH:
        return english
    return TITLES.get(status, english)


def validation_message(error: Mapping[str, Any], english: str, language: str | None = None) -> str:
    """Return one pydantic error's message in the language, by its `type` (and `ctx` values).

    A validator's own message (`value_error` with the exception in `ctx`) goes through the
    catalogue first: "check digit is wrong" has its own Chinese, better than "值无效".
    """
    if (language or current()) != ZH:
        return english
    kind = str(error.get("type", ""))
    if kind in ("value_error", "assertion_error"):
        translated = translate(english, ZH)
        if translated != english:
            return translated
    template = VALIDATION.get(kind)
    if template is None:
        return translate(english, ZH)
    ctx = {k: v if not isinstance(v, Exception) else str(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        text = template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        text = template.split("{")[0].rstrip("：: ") or english
    if kind in ("value_error", "assertion_error") and english:
        text = f"{text}（{english}）"  # our validator said more, in English only
    return text


class LanguageMiddleware:
    """Set the request's language (from `Accept-Language`) for everything that answers it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = None
        for name, raw in scope.get("headers", []):
            if name == b"accept-language":
                value = raw.decode("latin-1")
                break
        token = _current.set(negotiate(value))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
