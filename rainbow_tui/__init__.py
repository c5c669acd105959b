"""rainbow-tui: the on-call console for Shiojiri Rainbow Seeker."""

__version__ = "0.1.0"
