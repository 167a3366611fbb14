#include "error.h"

const char *ho11y_err_name(enum ho11y_err err)
{
    static const char *const names[] = {
#define HO11Y_ERR_NAME(name, msg) #name,
        HO11Y_ERR_MAP(HO11Y_ERR_NAME)
#undef HO11Y_ERR_NAME
    };
    if ((unsigned)err >= HO11Y_ERR__COUNT)
        return "UNKNOWN";
    return names[err];
}

const char *ho11y_err_message(enum ho11y_err err)
{
    static const char *const messages[] = {
#define HO11Y_ERR_MSG(name, msg) msg,
        HO11Y_ERR_MAP(HO11Y_ERR_MSG)
#undef HO11Y_ERR_MSG
    };
    if ((unsigned)err >= HO11Y_ERR__COUNT)
        return "unknown error";
    return messages[err];
}
