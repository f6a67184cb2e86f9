/*-------------------------------------------------------------------------
 *
 * segment.h
 *	  The dynamic shared memory segment of one launch: its table of
 *	  contents and its fixed part (see segment.c).
 *
 * IDENTIFICATION
 *	  extension/segment.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_SEGMENT_H
#define PGBG_SEGMENT_H

#include "lib/stringinfo.h"
#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

/*
 * Magic number identifying our dynamic shared memory segments ("PGB3"; the
 * layout of pg_background_fixed changed in versions 1.1 and 1.8, so a worker
 * started from a library of another layout refuses the segment).
 */
#define PG_BACKGROUND_MAGIC				0x50474233

/* Keys of the shm_toc stored at the start of the segment. */
#define PG_BACKGROUND_KEY_FIXED			0
#define PG_BACKGROUND_KEY_SQL			1
#define PG_BACKGROUND_KEY_SETTINGS		2
#define PG_BACKGROUND_KEY_QUEUE			3
#define PG_BACKGROUND_NKEYS				4

/*
 * How a worker ended, as it reports it in its segment (outcome).  The
 * launching session reads it even when it never reads the results, which
 * is how pg_background_list_v2 knows the state of a submitted worker.
 */
#define PGBG_OUTCOME_NONE				0	/* still running, or died silently */
#define PGBG_OUTCOME_DONE				1	/* committed and said ReadyForQuery */
#define PGBG_OUTCOME_ERROR				2	/* sent an ErrorResponse */

/* Room for the message of the worker's error in the segment. */
#define PGBG_LAST_ERROR_SIZE			256

/* Room for the message of the worker's progress report in the segment. */
#define PGBG_PROGRESS_MSG_SIZE			256

/* progress_pct of a worker that has not reported its progress. */
#define PGBG_NO_PROGRESS				(-1)

/*
 * Fixed-size part of the segment: who the worker must become, how it must
 * run, where it reports its process ID and, at its end, how it ended.
 */
typedef struct pg_background_fixed
{
	Oid			database_id;	/* caller's database */
	Oid			authenticated_user_id;	/* the worker connects as this user */
	Oid			current_user_id;	/* caller's current user */
	Oid			outer_user_id;	/* caller's SET ROLE, or InvalidOid */
	int			sec_context;	/* caller's security context */
	int32		queue_size;		/* size of the result queue in bytes */
	uint32		settings_len;	/* bytes of settings, see gucstate.c */
	TimestampTz launched_at;	/* when the caller started the launch */
	int32		worker_timeout_ms;	/* pg_background.worker_timeout, 0 = none */
	bool		discard_results;	/* submitted: send nothing back */
	int32		worker_pid;		/* set by the worker before it attaches */

	/* Set by the worker at its end; outcome is written last */
	TimestampTz finished_at;
	char		last_error[PGBG_LAST_ERROR_SIZE];
	pg_atomic_uint32 outcome;	/* PGBG_OUTCOME_* */

	/* The worker's last pg_background_progress call, under progress_lock */
	slock_t		progress_lock;
	int32		progress_pct;	/* PGBG_NO_PROGRESS until the first call */
	bool		progress_has_msg;
	char		progress_msg[PGBG_PROGRESS_MSG_SIZE];
} pg_background_fixed;

/* The launching session */
extern dsm_segment *pgbg_segment_create(const char *sql, Size sql_len,
										StringInfo settings,
										int32 queue_size, bool discard,
										int32 worker_timeout_ms,
										shm_mq **mq,
										pg_background_fixed **fixed,
										const char **sql_copy);
extern uint32 pgbg_segment_read_end(pg_background_fixed *fixed,
									TimestampTz *finished_at,
									const char **last_error);
extern int32 pgbg_segment_read_progress(pg_background_fixed *fixed,
										bool *has_msg, char *msg);

/* The worker */
extern dsm_segment *pgbg_segment_attach(Datum main_arg,
										pg_background_fixed **fixed,
										char **sql, char **settings,
										shm_mq **mq);
extern void pgbg_segment_report_end(pg_background_fixed *fixed,
									uint32 outcome, const char *message,
									size_t len);
extern void pgbg_segment_write_progress(pg_background_fixed *fixed,
										int32 pct, const char *msg, int len);

#endif							/* PGBG_SEGMENT_H */
