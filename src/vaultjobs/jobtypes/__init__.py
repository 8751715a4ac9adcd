"""Job types as folders: each family keeps its processors, routes, result links and queries together,
so that a new job type is one folder added rather than files touched across the tree."""
