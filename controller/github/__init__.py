"""The GitHub adapter: the only module that imports PyGithub."""
