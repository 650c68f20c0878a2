#include "enevo/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *enevo_strerror(int status)
{
    switch (status) {
    case ENEVO_OK:
        return "success";
#define ENEVO__ERR_CASE(name, value, desc) \
    case ENEVO_E##name:                    \
        return desc;
        ENEVO_ERRNO_MAP(ENEVO__ERR_CASE)
#undef ENEVO__ERR_CASE
    }
    return "unknown error";
}

int enevo_errf(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}
