"""The customer portal: sign-in with a one-time code sent through the outbox, one's own
accounts only, 缓催 applications, plan choice, promises and service ratings (CSAT)."""
