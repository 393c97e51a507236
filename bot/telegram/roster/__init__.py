"""The roster in Telegram: the middleware that records members, /members, /whoami,
/forgetme and the chat_member subscription."""
