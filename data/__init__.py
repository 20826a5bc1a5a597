"""Files zhnlp makes and ships: the default models in models/ (installed as zhnlp.data)."""
