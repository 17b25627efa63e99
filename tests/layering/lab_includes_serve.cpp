// Must NOT compile: lab and serve are siblings; neither may use the other.
#include "serve/server.h"
