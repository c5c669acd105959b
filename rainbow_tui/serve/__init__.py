"""``rainbow-tui serve``: the console over SSH, one full console per responder.

The SSH side lives here, Textual-free: who a key belongs to (:mod:`.responders`),
the server's own key (:mod:`.host_key`), the connection and its channel
(:mod:`.server`), and who is looking at which incident (:mod:`.presence`).  The
Textual driver drawing one app on one channel is ``rainbow_tui.serve_console``, on
the app's floor.  Nothing here is imported before ``serve`` asks for it (asyncssh
loads with :mod:`.server` and :mod:`.responders` only).
"""
