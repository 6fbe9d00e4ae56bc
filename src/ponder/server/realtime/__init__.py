"""Live sessions on ``/v1/realtime`` (the route: routes/realtime.py), the text-output subset of OpenAI's
Realtime API: audio and camera frames in, text out.

    wire.py      the session's settings from ``session.update``; the server's events, GA or beta names
    session.py   RealtimeSession: audio to turns (voice activity, transcription), responses, barge-in
"""
