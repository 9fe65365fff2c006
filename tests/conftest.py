import os

# trio (pulled in by selenium for the browser test) registers a Hypothesis entry point that
# some trio releases cannot load; w2gm's property tests need no Hypothesis plugins.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
