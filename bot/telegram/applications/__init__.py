"""Membership applications in Telegram: the applicant's questionnaire, the moderators'
card, what a decision does in the chat, the background sweep."""
