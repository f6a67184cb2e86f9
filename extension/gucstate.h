/*-------------------------------------------------------------------------
 *
 * gucstate.h
 *	  Handing the caller's settings to the worker (see gucstate.c).
 *
 * IDENTIFICATION
 *	  extension/gucstate.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_GUCSTATE_H
#define PGBG_GUCSTATE_H

#include "lib/stringinfo.h"

extern void pgbg_serialize_guc_state(StringInfo buf);
extern void pgbg_restore_guc_state(const char *data, Size len);

#endif							/* PGBG_GUCSTATE_H */
