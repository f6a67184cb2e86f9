/*-------------------------------------------------------------------------
 *
 * launch.c
 *	  Starting a background worker: the limits a launch must respect (queue
 *	  size, the segments the session holds, pg_background.max_workers), the
 *	  segment with the caller's settings, the worker's registration, and the
 *	  wait until it has attached to its queue; then registry.c remembers it.
 *
 * IDENTIFICATION
 *	  extension/launch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "control.h"
#include "gucstate.h"
#include "launch.h"
#include "miscadmin.h"
#include "registry.h"
#include "segment.h"
#include "settings.h"
#include "utils/memutils.h"
#include "worker.h"

/*
 * How many workers' segments a session may hold (running, unread, or
 * detached and not yet ended), and their queues' bytes at most: unread
 * results would otherwise pin shared memory, and the cluster's segment
 * slots, without limit.
 */
#define PG_BACKGROUND_MAX_HELD			64
#define PG_BACKGROUND_MAX_HELD_BYTES	((int64) 1024 * 1024 * 1024)

static void check_held(int32 queue_size);

/*
 * pgbg_launch
 *
 * Start a worker that runs sql and return the session's record of it.  We
 * return only once the worker has attached to the result queue: from then
 * on the segment lives as long as the worker does, so the work is not lost
 * even if this session detaches or exits at once.  A worker started with
 * discard sends nothing back but how it ended (pg_background_submit_v2).
 * queue_size 0 means pg_background.default_queue_size.
 */
pg_background_record *
pgbg_launch(const char *sql, Size sql_len, int32 queue_size, bool discard)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pg_background_fixed *fixed;
	pg_background_record *record;
	dsm_segment *seg;
	shm_mq	   *mq;
	shm_mq_handle *mqh;
	MemoryContext oldcontext;
	const char *sql_copy;
	StringInfoData settings;
	int32		pid;

	/* A worker's SQL may launch workers too: it needs the settings now */
	pgbg_define_settings();
	if (queue_size == 0)
		queue_size = pgbg_default_queue_size;

	/* Validate the queue size before anything is allocated or started */
	if (queue_size < PG_BACKGROUND_MIN_QUEUE_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queue size must be at least %d bytes",
						PG_BACKGROUND_MIN_QUEUE_SIZE)));
	if (queue_size > PG_BACKGROUND_MAX_QUEUE_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queue size must be at most %d bytes",
						PG_BACKGROUND_MAX_QUEUE_SIZE)));

	pgbg_refresh_records();
	check_held(queue_size);

	/* Build the segment the worker will read its instructions from */
	initStringInfo(&settings);
	pgbg_serialize_guc_state(&settings);
	seg = pgbg_segment_create(sql, sql_len, &settings, queue_size, discard,
							  pgbg_worker_timeout, &mq, &fixed, &sql_copy);
	pfree(settings.data);

	/* Describe the worker */
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, PG_BACKGROUND_LIBRARY);
	snprintf(worker.bgw_function_name, BGW_MAXLEN, PG_BACKGROUND_WORKER_MAIN);
	snprintf(worker.bgw_name, BGW_MAXLEN,
			 "pg_background worker for PID %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, PG_BACKGROUND_WORKER_TYPE);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	/*
	 * Register it.  If every slot is taken, workers of ours that already
	 * delivered their results may merely not have exited yet: give them a
	 * moment and try once more.
	 */
	oldcontext = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle) &&
		!(pgbg_wait_for_exiting() &&
		  RegisterDynamicBackgroundWorker(&worker, &handle)))
	{
		MemoryContextSwitchTo(oldcontext);
		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not register background process"),
				 errhint("You may need to increase max_worker_processes.")));
	}
	mqh = shm_mq_attach(mq, seg, handle);
	MemoryContextSwitchTo(oldcontext);

	/*
	 * Wait until the worker has attached to the queue.  If we are
	 * interrupted meanwhile the launch has failed, so make sure the worker
	 * does not run the statement behind our back.
	 */
	PG_TRY();
	{
		(void) shm_mq_wait_for_attach(mqh);
	}
	PG_CATCH();
	{
		TerminateBackgroundWorker(handle);
		shm_mq_detach(mqh);
		pfree(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/*
	 * shm_mq_wait_for_attach also reports a queue that was detached, which
	 * happens when a very fast worker has already finished.  What matters is
	 * whether the worker ever attached.
	 */
	if (shm_mq_get_sender(mq) == NULL)
	{
		shm_mq_detach(mqh);
		dsm_detach(seg);
		pfree(handle);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("background worker exited before it could start"),
				 errhint("More details may be available in the server log.")));
	}
	pg_read_barrier();
	pid = fixed->worker_pid;

	/* Remember it (this may let go of the segments of ended workers) */
	record = pgbg_register_worker(pid, sql, sql_len, seg, mqh, fixed,
								  sql_copy, handle);

	/* Keep the mapping past the end of this transaction */
	dsm_pin_mapping(seg);

	return record;
}

/*
 * pgbg_check_session_limit
 *
 * pg_background.max_workers bounds the workers of this session that are
 * still running; a launch of the second interface beyond it fails.
 */
void
pgbg_check_session_limit(void)
{
	int			running = pgbg_running_workers();

	if (running >= pgbg_max_workers)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many background workers in this session"),
				 errdetail("This session runs %d background workers, and pg_background.max_workers is %d.",
						   running, pgbg_max_workers),
				 errhint("Wait for a worker to finish or cancel one, or raise pg_background.max_workers.")));
}

/*
 * check_held
 *
 * The segments this session holds, one more of queue_size included, must
 * stay within PG_BACKGROUND_MAX_HELD and PG_BACKGROUND_MAX_HELD_BYTES.
 */
static void
check_held(int32 queue_size)
{
	long		held;
	int64		bytes;

	pgbg_held_segments(&held, &bytes);
	bytes += queue_size;

	if (held >= PG_BACKGROUND_MAX_HELD || bytes > PG_BACKGROUND_MAX_HELD_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many background worker results held by this session"),
				 errdetail("This session holds the queues of %ld background workers, " INT64_FORMAT " bytes with this launch; at most %d workers and " INT64_FORMAT " bytes are allowed.",
						   held, bytes, PG_BACKGROUND_MAX_HELD,
						   PG_BACKGROUND_MAX_HELD_BYTES),
				 errhint("Read or detach the results of earlier workers, or use pg_background_submit_v2 when the results are not needed.")));
}
