"""The Bot's HTTP session: aiogram's aiohttp session, lighter per call."""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout
from yarl import URL

_JSON = {"Content-Type": "application/json"}


class BotSession(AiohttpSession):
    """Calls without files go as one JSON body; those with files as aiogram sends them.

    aiogram posts every call as a form whose fields are each JSON-encoded on their own;
    the Bot API takes a JSON body just as well (its top-level fields become the same
    arguments), and one `json.dumps` is cheaper than a form. Each method's URL is
    parsed once, not per call (docs/PERFORMANCE.md has the saving).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._urls: dict[tuple[str, str], URL] = {}

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        files: dict[str, Any] = {}
        payload: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":  # as the form leaves them out
                payload[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)

        session = await self.create_session()
        try:
            async with session.post(
                self._url(bot.token, method.__api_method__),
                data=self.json_dumps(payload),
                headers=_JSON,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)

    def _url(self, token: str, name: str) -> URL:
        url = self._urls.get((token, name))
        if url is None:
            url = self._urls[(token, name)] = URL(self.api.api_url(token=token, method=name))
        return url
