"""``ponder serve``: an OpenAI-compatible API over Ponder's modes, with keys, limits and a chat page.

    app.py            create_app: builds the state, installs the error handlers, includes the routers
    state.py          ServerState: settings, database, stores, models, turn slots, metrics (app.state.ponder)
    routes/           one APIRouter per group (chat, audio, models, memory, commerce, interests, health) and
                      the dependencies they share (routes/depends.py: State, Caller)
    handlers.py       every error in OpenAI's shape
    auth.py           API keys, tiers, rate and token limits (admit)
    chat.py           serving a chat completion turn, whole or streamed; translate.py, shape.py and
                      streaming.py are its wire translation, request caps and SSE
    transcriptions.py serving an audio transcription
    memory.py, actions.py, orders.py, interests.py   the serving functions of the /v1 data routes
    ucp/              the Universal Commerce Protocol's routes and wire models (the checkout state machine
                      is commerce/ucp/)
    protocol.py       the OpenAI wire models; errors.py the ApiError; metrics.py, middleware.py, guard.py,
                      interpreter.py the request log, metrics, browser checks and GIL sharing

Not here: the turn itself (modes, the runner), commerce, memory: the server only authenticates, limits,
translates and answers.
"""

from ponder.server.app import create_app

__all__ = ["create_app"]
