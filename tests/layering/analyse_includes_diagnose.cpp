// Must NOT compile: analyse sees only snapshot and util.
#include "diagnose/diagnose.h"
