"""Kazakhstan's identifiers and text rules: the leaf every other layer may import.

``kazakhstan.ids``: IIN/BIN check digits, the birth date in an IIN, cadastral numbers.
``kazakhstan.script``: the one-script-per-word rule (a Latin i inside a Kazakh word).

It imports nothing of qujat's own; ``docgen`` and ``signing`` both use it and never each other.
"""
