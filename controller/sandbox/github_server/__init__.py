"""A loopback GitHub REST API backed by real bare git repositories, with signed webhooks.

Start it with `GitHubApiServer(root).start()` and point PyGithub at the returned URL
(``Github(base_url=url, auth=Auth.Token(token))``).
"""

from controller.sandbox.github_server.app import RequestRecord
from controller.sandbox.github_server.server import GitHubApiServer
from controller.sandbox.github_server.webhooks import Delivery

__all__ = ["Delivery", "GitHubApiServer", "RequestRecord"]
