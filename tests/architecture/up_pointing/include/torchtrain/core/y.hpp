// A fixture for tests/architecture/check_layers.py: an include within core, allowed.
#pragma once
