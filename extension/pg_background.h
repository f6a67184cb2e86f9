/*-------------------------------------------------------------------------
 *
 * pg_background.h
 *	  Private definitions shared by the files of the pg_background extension:
 *	  the layout of the dynamic shared memory segment, the message protocol
 *	  spoken over the result queue, the session's worker table and prototypes.
 *
 * IDENTIFICATION
 *	  extension/pg_background.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_BACKGROUND_H
#define PG_BACKGROUND_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "storage/spin.h"
#include "tcop/dest.h"
#include "utils/portal.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/*
 * The wait event a reader reports while it polls the result queue: PostgreSQL 17
 * generates the wait event names and gave this one its long name.
 */
#if PG_VERSION_NUM >= 170000
#define PGBG_WAIT_EVENT_MQ_RECEIVE		WAIT_EVENT_MESSAGE_QUEUE_RECEIVE
#else
#define PGBG_WAIT_EVENT_MQ_RECEIVE		WAIT_EVENT_MQ_RECEIVE
#endif

/*
 * A function that never returns is declared with the specifier PostgreSQL 18
 * introduced in place of pg_attribute_noreturn(); before 18, that attribute
 * (a GCC attribute, valid before the declaration too) stands in for it.
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * Magic number identifying our dynamic shared memory segments ("PGB3"; the
 * layout of pg_background_fixed changed in versions 1.1 and 1.8, so a worker
 * started from a library of another layout refuses the segment).
 */
#define PG_BACKGROUND_MAGIC				0x50474233

/* Keys of the shm_toc stored at the start of the segment. */
#define PG_BACKGROUND_KEY_FIXED			0
#define PG_BACKGROUND_KEY_SQL			1
#define PG_BACKGROUND_KEY_SETTINGS			2
#define PG_BACKGROUND_KEY_QUEUE			3
#define PG_BACKGROUND_NKEYS				4

/*
 * Accepted range of the queue_size argument of the launch functions.  Below
 * 4 kB a queue holds less than one batch of rows of a few hundred bytes, and
 * every row costs both processes a wake-up: 100,000 rows of 1 kB took more
 * than ten minutes through a 64-byte queue.
 */
#define PG_BACKGROUND_MIN_QUEUE_SIZE	4096
#define PG_BACKGROUND_MAX_QUEUE_SIZE	(256 * 1024 * 1024)

/* Defaults and bounds of the settings (see pg_background.c). */
#define PG_BACKGROUND_DEFAULT_MAX_WORKERS	16
#define PG_BACKGROUND_MAX_MAX_WORKERS		1000
#define PG_BACKGROUND_DEFAULT_QUEUE_SIZE	65536

/*
 * How many workers' segments a session may hold (running, unread, or
 * detached and not yet ended), and their queues' bytes at most: unread
 * results would otherwise pin shared memory, and the cluster's segment
 * slots, without limit.
 */
#define PG_BACKGROUND_MAX_HELD			64
#define PG_BACKGROUND_MAX_HELD_BYTES	((int64) 1024 * 1024 * 1024)

/* The longest grace pg_background_cancel_v2_grace gives a worker: 1 hour. */
#define PG_BACKGROUND_MAX_GRACE_MS		(60 * 60 * 1000)

/* Where the postmaster finds our workers' main function. */
#define PG_BACKGROUND_LIBRARY			"pg_background"
#define PG_BACKGROUND_WORKER_MAIN		"pg_background_worker_main"

/* Name shown as backend_type and application_name of our workers. */
#define PG_BACKGROUND_WORKER_TYPE		"pg_background"

/*
 * Message types of the protocol spoken over the result queue.  They are the
 * letters of the frontend/backend protocol version 3 (PostgreSQL 17 calls
 * them PqMsg_*), because the worker produces its messages with the server's
 * own code: printtup, EndCommand, ReadyForQuery and elog.c.
 */
#define PGBG_MSG_ROW_DESCRIPTION		'T'
#define PGBG_MSG_DATA_ROW				'D'
#define PGBG_MSG_COMMAND_COMPLETE		'C'
#define PGBG_MSG_ERROR_RESPONSE			'E'
#define PGBG_MSG_NOTICE_RESPONSE		'N'
#define PGBG_MSG_READY_FOR_QUERY		'Z'

/* Format code of a column sent as the image of its datum (0 is text). */
#define PGBG_FORMAT_RAW					1

/*
 * Every message the worker sends is framed as a type byte, a length word
 * (uint32 in native byte order, payload only) and the payload.  Several
 * frames are packed into one shm_mq message so that a large result costs
 * few queue operations and few latch wake-ups.
 */
#define PGBG_FRAME_HEADER_SIZE			(1 + sizeof(uint32))

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
	uint32		settings_len;	/* bytes of settings, see settings.c */
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
 * cookie), what it ran, and how it ended.  Kept in TopMemoryContext, see
 * registry.c.
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
 * keyed by the worker's process ID.
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

/* Opaque state of one pg_background_result call, see result.c. */
typedef struct pgbg_result_state pgbg_result_state;

/* pg_background.c */
extern PGDLLIMPORT bool pgbg_text_transfer;
extern PGDLLIMPORT int pgbg_max_workers;
extern PGDLLIMPORT int pgbg_default_queue_size;
extern PGDLLIMPORT int pgbg_worker_timeout;
extern void pgbg_define_settings(void);
extern bool pgbg_text_transfer_wanted(void);

/* launch.c */
extern PGDLLIMPORT uint64 pgbg_worker_table_changes;
extern pg_background_record *pgbg_launch(const char *sql, Size sql_len,
										 int32 queue_size, bool discard);
extern pg_background_worker *pgbg_find_worker(int32 pid);
extern bool pgbg_results_readable(pg_background_record *record);
extern void pgbg_detach_worker(pg_background_worker *worker,
							   pgbg_consumed_by how);
extern void pgbg_stop_reading(pg_background_worker *worker);
extern void pgbg_forget_worker(pg_background_worker *worker, bool finished,
							   pgbg_consumed_by how);
extern pg_noreturn void pgbg_error_not_attached(int32 pid);

/* registry.c */
extern pg_background_record *pgbg_record_create(int32 pid, const char *sql,
												Size sql_len,
												pg_background_fixed *fixed,
												BackgroundWorkerHandle *handle);
extern void pgbg_record_released(pg_background_record *record,
								 bool finished, pgbg_consumed_by how);
extern void pgbg_refresh_records(void);
extern pg_background_record *pgbg_lookup_handle(int32 pid, int64 cookie);
extern void pgbg_check_session_limit(void);
extern void pgbg_cancel_record(pg_background_record *record);
extern void pgbg_cancel_record_grace(pg_background_record *record,
									 int grace_ms);
extern bool pgbg_wait_record(pg_background_record *record, int timeout_ms);
extern bool pgbg_wait_for_exiting(void);
extern List *pgbg_records(void);
extern void pgbg_stats(int64 *launched, int64 *completed, int64 *failed,
					   int64 *canceled, int32 *active, double *avg_ms);
extern const char *pgbg_state_name(pgbg_state state);

/* result.c */
extern TupleDesc pgbg_record_set_call(FunctionCallInfo fcinfo);
extern void pgbg_result_materialize(FunctionCallInfo fcinfo, int32 pid);
extern pg_noreturn void pgbg_error_discarded(int32 pid);
extern pgbg_result_state *pgbg_result_begin(int32 pid, TupleDesc tupdesc,
											ExprContext *econtext);
extern void pgbg_result_read(pgbg_result_state *state,
							 Tuplestorestate *tupstore);
extern void pgbg_result_end(pgbg_result_state *state);

/* output.c */
extern void pgbg_redirect_output(dsm_segment *seg, shm_mq_handle *mqh,
								 pg_background_fixed *fixed);
extern DestReceiver *pgbg_create_receiver(Portal portal);

/* progress.c */
extern void pgbg_progress_init(pg_background_fixed *fixed);
extern void pgbg_progress_serve(pg_background_fixed *fixed);
extern void pgbg_progress_refresh(pg_background_record *record);

/* settings.c */
extern void pgbg_serialize_settings(StringInfo buf);
extern void pgbg_restore_settings(const char *data, Size len);

/* worker.c */
extern PGDLLEXPORT void pg_background_worker_main(Datum main_arg);

#endif							/* PG_BACKGROUND_H */
