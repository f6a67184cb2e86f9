/*-------------------------------------------------------------------------
 *
 * launch.c
 *	  Starting background workers: the dynamic shared memory segment with
 *	  its table of contents and result queue, the worker's registration, and
 *	  the session's table of workers whose results can still be read.
 *
 * IDENTIFICATION
 *	  extension/launch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "pg_background.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shm_toc.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* The session's workers, keyed by process ID (lives in TopMemoryContext). */
static HTAB *worker_table = NULL;

/* How many entries the table has lost; a reader rechecks its entry then. */
uint64		pgbg_worker_table_changes = 0;

/* Have we registered our transaction callbacks yet? */
static bool callbacks_registered = false;

static void ensure_worker_table(void);
static void check_held(int32 queue_size);
static dsm_segment *setup_segment(const char *sql, Size sql_len,
								  int32 queue_size, bool discard, shm_mq **mq,
								  pg_background_fixed **fixed,
								  const char **sql_copy);
static void pgbg_xact_callback(XactEvent event, void *arg);
static void pgbg_subxact_callback(SubXactEvent event,
								  SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);

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
	pg_background_worker *entry;
	pg_background_record *record;
	dsm_segment *seg;
	shm_mq	   *mq;
	shm_mq_handle *mqh;
	MemoryContext oldcontext;
	const char *sql_copy;
	int32		pid;
	bool		found;

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

	ensure_worker_table();
	pgbg_refresh_records();
	check_held(queue_size);

	/* Build the segment the worker will read its instructions from */
	seg = setup_segment(sql, sql_len, queue_size, discard, &mq, &fixed,
						&sql_copy);

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
	record = pgbg_record_create(pid, sql, sql_len, fixed, handle);

	/*
	 * A process ID can only be in the table twice if an old worker exited
	 * unread long ago and the kernel reused its ID: drop the stale entry,
	 * whose end is final.
	 */
	entry = hash_search(worker_table, &pid, HASH_ENTER, &found);
	if (found)
	{
		if (!entry->queue_detached && !entry->record->discard)
			ereport(WARNING,
					(errmsg("discarding the unread results of an earlier background worker with PID %d",
							pid)));
		if (!entry->queue_detached)
			shm_mq_detach(entry->mqh);
		pgbg_record_released(entry->record, true, PGBG_CONSUMED_DETACHED);
		entry->record->entry = NULL;
		pgbg_worker_table_changes++;
		dsm_detach(entry->seg);
	}
	entry->pid = pid;
	entry->seg = seg;
	entry->mqh = mqh;
	entry->fixed = fixed;
	entry->sql = sql_copy;
	entry->reading = false;
	entry->queue_detached = false;
	entry->reading_subid = InvalidSubTransactionId;
	entry->record = record;
	record->entry = entry;

	/* Keep the mapping past the end of this transaction */
	dsm_pin_mapping(seg);

	return record;
}

/*
 * pgbg_find_worker
 *
 * The table entry of a worker of this session whose results can still be
 * read, or NULL.
 */
pg_background_worker *
pgbg_find_worker(int32 pid)
{
	pg_background_worker *worker;

	if (worker_table == NULL)
		return NULL;
	worker = hash_search(worker_table, &pid, HASH_FIND, NULL);
	if (worker == NULL || worker->queue_detached)
		return NULL;
	return worker;
}

/*
 * pgbg_results_readable
 *
 * Whether the worker's results can still be read.
 */
bool
pgbg_results_readable(pg_background_record *record)
{
	return record->entry != NULL && !record->entry->queue_detached &&
		!record->discard;
}

/*
 * pgbg_detach_worker
 *
 * Stop listening to a worker (detach, cancel): detach from its queue, so
 * that its sends fail and it never waits for us, but keep its segment, and
 * with it how the worker ends, until it has ended (pgbg_refresh_records
 * lets go then).  Not while its results are being read: the reader is
 * working in the segment (a domain's check of a column can call us).
 */
void
pgbg_detach_worker(pg_background_worker *worker, pgbg_consumed_by how)
{
	if (worker->reading)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("the results of background worker with PID %d are being read",
						worker->pid),
				 errhint("Detach or cancel it once the query that reads its results has ended.")));
	if (worker->queue_detached)
		return;

	shm_mq_detach(worker->mqh);
	worker->queue_detached = true;
	if (worker->record->consumed_by == PGBG_CONSUMED_NOT)
		worker->record->consumed_by = how;
}

/*
 * pgbg_stop_reading
 *
 * A reading ended before the worker's last message (an error, a cancel, an
 * abort): nothing more can be read, the worker goes on to its commit, and
 * its segment stays until it has ended, as after a detach.
 */
void
pgbg_stop_reading(pg_background_worker *worker)
{
	worker->reading = false;
	pgbg_detach_worker(worker, PGBG_CONSUMED_READ);
	pgbg_worker_table_changes++;
}

/*
 * pgbg_forget_worker
 *
 * Stop listening to a worker: detach from its queue and segment and drop it
 * from the table.  The worker keeps running; what it still sends is lost.
 * finished says that it already sent its last message: its record learns
 * how it ended from the segment before we let go of it.  how says why its
 * results are gone (PGBG_CONSUMED_NOT for a submitted worker that ended).
 */
void
pgbg_forget_worker(pg_background_worker *worker, bool finished,
				   pgbg_consumed_by how)
{
	int32		pid = worker->pid;

	/* Detach the queue first: that wakes a worker blocked on a full queue */
	if (!worker->queue_detached)
		shm_mq_detach(worker->mqh);
	pgbg_record_released(worker->record, finished, how);
	worker->record->entry = NULL;
	dsm_detach(worker->seg);

	hash_search(worker_table, &pid, HASH_REMOVE, NULL);
	pgbg_worker_table_changes++;
}

/*
 * pgbg_error_not_attached
 *
 * The one error for a process ID whose results cannot be read: not started
 * by this session, or already read or detached.
 */
void
pgbg_error_not_attached(int32 pid)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("PID %d is not attached to this session", pid)));
	pg_unreachable();
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
	HASH_SEQ_STATUS status;
	pg_background_worker *worker;
	long		held = 0;
	int64		bytes = queue_size;

	hash_seq_init(&status, worker_table);
	while ((worker = hash_seq_search(&status)) != NULL)
	{
		held++;
		bytes += worker->fixed->queue_size;
	}

	if (held >= PG_BACKGROUND_MAX_HELD || bytes > PG_BACKGROUND_MAX_HELD_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many background worker results held by this session"),
				 errdetail("This session holds the queues of %ld background workers, " INT64_FORMAT " bytes with this launch; at most %d workers and " INT64_FORMAT " bytes are allowed.",
						   held, bytes, PG_BACKGROUND_MAX_HELD,
						   PG_BACKGROUND_MAX_HELD_BYTES),
				 errhint("Read or detach the results of earlier workers, or use pg_background_submit_v2 when the results are not needed.")));
}

/*
 * ensure_worker_table
 *
 * Create the session's worker table and hook into transaction end, on
 * first use.
 */
static void
ensure_worker_table(void)
{
	HASHCTL		ctl;

	if (worker_table == NULL)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(pg_background_worker);
		ctl.hcxt = TopMemoryContext;
		worker_table = hash_create("pg_background workers", 16, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	if (!callbacks_registered)
	{
		RegisterXactCallback(pgbg_xact_callback, NULL);
		RegisterSubXactCallback(pgbg_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

/*
 * setup_segment
 *
 * Create the dynamic shared memory segment for one launch: who to run as,
 * the SQL text, our settings and the result queue, with us as its receiver.
 */
static dsm_segment *
setup_segment(const char *sql, Size sql_len, int32 queue_size, bool discard,
			  shm_mq **mq,
			  pg_background_fixed **fixed, const char **sql_copy)
{
	shm_toc_estimator e;
	shm_toc    *toc;
	dsm_segment *seg;
	StringInfoData settings;
	Size		segsize;
	char	   *sqlp;
	char	   *settingsp;

	/* The settings the worker must take over (see settings.c) */
	initStringInfo(&settings);
	pgbg_serialize_settings(&settings);

	/* Size everything */
	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(pg_background_fixed));
	shm_toc_estimate_chunk(&e, sql_len + 1);
	shm_toc_estimate_chunk(&e, (Size) settings.len + 1);
	shm_toc_estimate_chunk(&e, (Size) queue_size);
	shm_toc_estimate_keys(&e, PG_BACKGROUND_NKEYS);
	segsize = shm_toc_estimate(&e);

	seg = dsm_create(segsize, 0);
	toc = shm_toc_create(PG_BACKGROUND_MAGIC, dsm_segment_address(seg),
						 segsize);

	/* Who the worker must be */
	*fixed = shm_toc_allocate(toc, sizeof(pg_background_fixed));
	(*fixed)->database_id = MyDatabaseId;
	(*fixed)->authenticated_user_id = GetAuthenticatedUserId();
	GetUserIdAndSecContext(&(*fixed)->current_user_id,
						   &(*fixed)->sec_context);
	(*fixed)->outer_user_id = GetCurrentRoleId();
	(*fixed)->queue_size = queue_size;
	(*fixed)->launched_at = GetCurrentTimestamp();
	(*fixed)->worker_timeout_ms = pgbg_worker_timeout;
	(*fixed)->discard_results = discard;
	(*fixed)->worker_pid = 0;
	(*fixed)->finished_at = 0;
	(*fixed)->last_error[0] = '\0';
	pg_atomic_init_u32(&(*fixed)->outcome, PGBG_OUTCOME_NONE);
	pgbg_progress_init(*fixed);
	shm_toc_insert(toc, PG_BACKGROUND_KEY_FIXED, *fixed);

	/* What it must run */
	sqlp = shm_toc_allocate(toc, sql_len + 1);
	memcpy(sqlp, sql, sql_len);
	sqlp[sql_len] = '\0';
	shm_toc_insert(toc, PG_BACKGROUND_KEY_SQL, sqlp);
	*sql_copy = sqlp;

	/* With which settings */
	settingsp = shm_toc_allocate(toc, (Size) settings.len + 1);
	memcpy(settingsp, settings.data, settings.len + 1);
	(*fixed)->settings_len = (uint32) settings.len;
	shm_toc_insert(toc, PG_BACKGROUND_KEY_SETTINGS, settingsp);
	pfree(settings.data);

	/* Where the results go */
	*mq = shm_mq_create(shm_toc_allocate(toc, (Size) queue_size),
						(Size) queue_size);
	shm_toc_insert(toc, PG_BACKGROUND_KEY_QUEUE, *mq);
	shm_mq_set_receiver(*mq, MyProc);

	return seg;
}

/*
 * pgbg_xact_callback
 *
 * A transaction that aborts while pg_background_result is consuming a
 * worker leaves that stream half-read: stop listening to such workers so
 * that they can finish (their remaining output is discarded).
 */
static void
pgbg_xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS status;
	pg_background_worker *worker;

	if (event != XACT_EVENT_ABORT || worker_table == NULL)
		return;

	hash_seq_init(&status, worker_table);
	while ((worker = hash_seq_search(&status)) != NULL)
	{
		if (worker->reading)
			pgbg_stop_reading(worker);
	}
}

/*
 * pgbg_subxact_callback
 *
 * The same for a subtransaction (a plpgsql block with an EXCEPTION clause)
 * that aborts; a reader in a committed subtransaction belongs to its parent
 * from then on.
 */
static void
pgbg_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS status;
	pg_background_worker *worker;

	if (worker_table == NULL ||
		(event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB))
		return;

	hash_seq_init(&status, worker_table);
	while ((worker = hash_seq_search(&status)) != NULL)
	{
		if (!worker->reading || worker->reading_subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
			pgbg_stop_reading(worker);
		else
			worker->reading_subid = parentSubid;
	}
}
