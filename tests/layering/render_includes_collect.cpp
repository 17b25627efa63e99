// Must NOT compile: render may not read the system, so collect/ is not on its include path.
#include "collect/collector.h"
