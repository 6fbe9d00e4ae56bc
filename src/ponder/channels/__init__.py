"""Messaging channels: the assistant and the store inside a WhatsApp, Messenger or Telegram thread.

    platform ──POST /channels/NAME/webhook──> service.receive: signature, parse, inbox (200 at once)
                                                   │ channel.inbound job
                                                   v
                            threads.ThreadTurns: the thread's user and session, a button press
                            (confirmations.py), quiet during a hand-off, else one turn of the runner
                                                   │ the reply's parts, in one transaction
                                                   v
                            outbox: channel.send jobs, in order, retried ──> the platform's send API

    base.py           Inbound, Outbound, the Channel interface every adapter implements
    whatsapp.py       the WhatsApp Cloud API        messenger.py   the Messenger Platform
    telegram.py       the Telegram Bot API          signatures.py  Meta's X-Hub-Signature-256
    formatting.py     Markdown as each platform renders it; splitting to its limits
    inbox.py          the durable inbox (a redelivery is a no-op)
    outbox.py         the durable outbox, its retries, the duplicate window and its count
    confirmations.py  Confirm / Cancel buttons whose payload is a handle, never the token
    threads.py        one message answered through the conversation runner
    handoff.py        a person's reply to a hand-off ticket, delivered into the thread
    service.py        the channels of one server: the webhook's steps and the workers

Configured by ``[[channels]]`` (config.ChannelConfig), mounted by ``ponder serve``.
"""
