"""Where the back office lives: its pages link to these, and the CLI prints them."""

DASHBOARD_PATH = "/dashboard"
SIGN_IN_PATH = DASHBOARD_PATH + "/sign-in"
INVITE_PATH = DASHBOARD_PATH + "/invite"
