"""The provincial platform's side of the gateway: the minimised event feed, NATS users, webhooks."""
