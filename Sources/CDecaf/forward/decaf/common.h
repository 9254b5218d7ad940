/* libdecaf-dev installs its headers under /usr/include/decaf/decaf/ and they include each other
 * as <decaf/common.h>, which expects -I/usr/include/decaf (the package ships no pkg-config file).
 * This forwarding header (on this target's private header search path) resolves that include
 * without unsafe compiler flags. */
#include <decaf/decaf/common.h>
