"""Karma in Telegram: votes, commands, reaction votes, sanctions applied in the chat."""
