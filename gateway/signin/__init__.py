"""Sign-in with named accounts: passwords (argon2id), server-side sessions that expire, lockout
after failed attempts, and the `hallgate user` command that manages the accounts. The accounts and
sessions live in the state database (gateway/store/repos/accounts.py); machines keep their
configured bearer tokens (api.tokens)."""
