"""Local stand-ins for outside systems that answer over the network as the real ones
document (tests/smtp.py is the mail server's): the real clients are tested against them,
never against mocks."""
