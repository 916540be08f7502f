"""The merchant's staff: back-office accounts, their invitations and their signed-in sessions."""
