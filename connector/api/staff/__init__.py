"""Personal staff accounts: persons log in (password + TOTP, or OpenID Connect) and get a
session that names them in every audit line. See docs/staff-accounts.md."""
