"""Voice transcription in Telegram: voice notes, /transcribe, /a2t_mode and the job's
buttons. The job's texts are shared with the workers: bot/telegram/a2t_views.py."""
