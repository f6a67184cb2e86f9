/*-------------------------------------------------------------------------
 *
 * result.h
 *	  Reading a worker's results as a set-returning function (see
 *	  result.c).
 *
 * IDENTIFICATION
 *	  extension/result.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_RESULT_H
#define PGBG_RESULT_H

#include "access/tupdesc.h"
#include "fmgr.h"

#include "compat.h"

extern void pgbg_result_materialize(FunctionCallInfo fcinfo, int32 pid);
extern TupleDesc pgbg_record_set_call(FunctionCallInfo fcinfo);
extern pg_noreturn void pgbg_error_discarded(int32 pid);

#endif							/* PGBG_RESULT_H */
