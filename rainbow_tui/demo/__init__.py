"""The embedded demo stack: a stand-in of Shiojiri Rainbow Seeker's production system.

Run it with ``python -m rainbow_tui.demo serve --state-dir DIR`` or, from Python,
:func:`rainbow_tui.demo.launcher.start_demo_stack`; find its parts through
:class:`rainbow_tui.demo.endpoints.DemoEndpoints` (``DIR/stack.json``).
"""
