/*-------------------------------------------------------------------------
 *
 * registry.h
 *	  What the session knows of the workers it launched: a record of each,
 *	  and the table of those whose segment it holds (see registry.c).
 *
 * IDENTIFICATION
 *	  extension/registry.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_REGISTRY_H
#define PGBG_REGISTRY_H

#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "segment.h"

/* A worker's progress as it last reported it (see progress.c). */
typedef struct pgbg_progress
{
	int32		pct;			/* PGBG_NO_PROGRESS: never reported */
	char	   *msg;			/* NULL: reported without a message */
} pgbg_progress;

/* How the session ended the tracking of a worker's results. */
typedef enum pgbg_consumed_by
{
	PGBG_CONSUMED_NOT,			/* still readable (or submitted) */
	PGBG_CONSUMED_READ,			/* read, or its reading failed */
	PGBG_CONSUMED_DETACHED,		/* detached */
	PGBG_CONSUMED_CANCELED		/* canceled */
} pgbg_consumed_by;

/* State of a worker as pg_background_list_v2 shows it. */
typedef enum pgbg_state
{
	PGBG_STATE_RUNNING,			/* no end known yet */
	PGBG_STATE_STOPPED,			/* finished (committed, or detached and gone) */
	PGBG_STATE_CANCELED,		/* pg_background_cancel_v2 stopped it */
	PGBG_STATE_ERROR			/* ended with an error */
} pgbg_state;

typedef struct pg_background_worker pg_background_worker;

/*
 * What the session remembers about one worker it launched, through either
 * interface, after its results are gone too: the handle (process ID and
 * cookie), what it ran, and how it ended.  Kept in TopMemoryContext.
 */
typedef struct pg_background_record
{
	int32		pid;			/* the worker's process ID */
	int64		cookie;			/* tells this worker from a later one with
								 * the same process ID */
	TimestampTz launched_at;
	Oid			user_id;		/* current user of the launch */
	int32		queue_size;
	char	   *sql_preview;	/* the start of the SQL text */
	bool		discard;		/* submitted: results are discarded */
	pgbg_consumed_by consumed_by;	/* how its results went, if they did */
	pgbg_state	state;
	char	   *last_error;		/* message of its error, or NULL */
	double		run_ms;			/* launch to end, if the worker reported it */
	pgbg_progress progress;		/* its last progress report that we saw */
	bool		finished;		/* its final message has been read */
	bool		gone;			/* the postmaster reported it stopped */
	bool		cancel_requested;	/* cancel_v2 sent it a cancel */
	BackgroundWorkerHandle *handle; /* to ask the postmaster about it */
	pg_background_worker *entry;	/* its worker table entry, or NULL */
} pg_background_record;

/*
 * One entry of the session's worker table, kept in TopMemoryContext and
 * keyed by the worker's process ID: a worker whose segment the session
 * holds.
 */
struct pg_background_worker
{
	int32		pid;			/* hash key: the worker's process ID */
	dsm_segment *seg;			/* segment holding the result queue */
	shm_mq_handle *mqh;			/* our (receiving) end of the queue */
	pg_background_fixed *fixed; /* the fixed part, in the segment */
	pg_background_record *record;	/* what the session remembers of it */
	const char *sql;			/* the SQL text, in the segment */
	bool		reading;		/* pg_background_result is consuming it */
	bool		queue_detached; /* detached or canceled: nothing more is
								 * read, the segment is kept until the
								 * worker has ended, to learn how */
	SubTransactionId reading_subid; /* subtransaction that started reading */
};

/* How many entries the table has lost; a reader rechecks its entry then. */
extern PGDLLIMPORT uint64 pgbg_worker_table_changes;

extern pg_background_record *pgbg_register_worker(int32 pid,
												  const char *sql,
												  Size sql_len,
												  dsm_segment *seg,
												  shm_mq_handle *mqh,
												  pg_background_fixed *fixed,
												  const char *sql_copy,
												  BackgroundWorkerHandle *handle);

extern pg_background_worker *pgbg_find_worker(int32 pid);
extern pg_background_record *pgbg_lookup_handle(int32 pid, int64 cookie);
extern List *pgbg_records(void);
extern bool pgbg_results_readable(pg_background_record *record);
extern pg_noreturn void pgbg_error_not_attached(int32 pid);

extern void pgbg_detach_worker(pg_background_worker *worker,
							   pgbg_consumed_by how);
extern void pgbg_stop_reading(pg_background_worker *worker);
extern void pgbg_forget_worker(pg_background_worker *worker, bool finished,
							   pgbg_consumed_by how);

extern void pgbg_refresh_records(void);
extern void pgbg_refresh_record(pg_background_record *record);
extern void pgbg_refresh_progress(pg_background_record *record);
extern void pgbg_record_ended(pg_background_record *record, pgbg_state state,
							  const char *error);

extern void pgbg_held_segments(long *count, int64 *bytes);
extern int	pgbg_running_workers(void);
extern void pgbg_stats(int64 *launched, int64 *completed, int64 *failed,
					   int64 *canceled, int32 *active, double *avg_ms);
extern const char *pgbg_state_name(pgbg_state state);
extern const char *pgbg_state_name(pgbg_state state);

#endif							/* PGBG_REGISTRY_H */
