"""The incident core: runbooks, the record and its store, the runner, the postmortem.

Plain asyncio and files, no Textual: the console drives these, the tests call them
directly.  Modules import their heavy clients (asyncssh, asyncpg, httpx) on first use.
"""
