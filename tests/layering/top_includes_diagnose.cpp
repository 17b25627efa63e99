// Must NOT compile: top draws frames from plain data; collecting is the caller's (cli) job.
#include "diagnose/diagnose.h"
