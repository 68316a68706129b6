"""The loopback GitHub's GraphQL endpoint (``POST /graphql``, GHES ``POST /api/graphql``).

Loaded on the first GraphQL request only: graphql-core is a dependency of the imitation,
and a controller process (whose memory is measured) must never import it.
"""
