"""ReadyFloor workstation agent and the check catalog shared with the server.

Nothing in this package imports Django: the server imports the catalog and the report
schema from here so that a seat's self-check and the server agree on every verdict.
"""

__version__ = "0.1.0"
