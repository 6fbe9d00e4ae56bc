"""The ``ponder`` command line: one module per command group.

    main.py       the command group, and the one place errors become exit codes
    ask.py        ``ponder ask``: one question, answered, then exit
    chat.py       ``ponder chat``: an interactive conversation kept in a session
    listen.py     ``ponder listen``: a spoken question from the microphone, transcribed and answered
    shop.py       ``ponder shop`` (the shopping preset in a chat, loading a store, confirming what it
                  proposes) and ``ponder support`` (the hand-off queue)
    session.py    TerminalSession: turns run by the conversation runner, its events rendered, its pending
                  actions put to the person, Ctrl-C as a stopped turn
    options.py    the flags of the commands that answer (``ask``, ``chat``): mode, generation, memory
    context.py    what every command shares: flags as settings, a model made from a spec
    media.py      images and audio named on the command line, read into message parts
    render.py     terminal output: errors, progress, streamed answers, usage lines
    sanitize.py   text from models, tools and files made safe to print on a terminal
    memory.py     ``ponder memory``, ``ponder sessions``, ``ponder forget-me``
    interests.py  ``ponder interests``: record, import and show interest events and the profile
    keys.py       ``ponder keys``: the API keys of ``ponder serve`` (and UCP agent credentials)
    models.py     ``ponder models``: the embedded and configured models, and whether each is ready
    mcp.py        ``ponder mcp``: MCP servers' tools and their approval, and Ponder's tools served over MCP
    sandbox.py    ``ponder sandbox``: the jail's self-test, and running a file in it
    serve.py      ``ponder serve``: the API and the chat page under uvicorn, with graceful shutdown

A command parses, builds what the turn needs and renders; the turn itself is ``ponder.conversation``'s.
"""
