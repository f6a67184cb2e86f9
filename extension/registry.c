/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  What the session knows of the workers it launched, through either
 *	  interface.  Each worker has a record (pg_background_record: its handle
 *	  of process ID and cookie, what it ran, its state, last error and
 *	  progress), kept after the worker has ended; while the session holds
 *	  the worker's segment, it also has an entry in the worker table
 *	  (pg_background_worker, keyed by process ID: the segment, our end of
 *	  the result queue, whether its results are being read).
 *
 *	  This file is the one owner of both.  A record and its entry point at
 *	  each other and change together: letting go of a segment settles the
 *	  record from it, and refreshing a record lets go of the segment of a
 *	  worker that ended unread.  Kept in one file, with the transaction
 *	  callbacks that end a reading that aborted and the counters of
 *	  pg_background_stats_v2, they make it longer than 400 lines; split,
 *	  the two halves would call each other again.  Acting on workers
 *	  (cancel, wait) is control.c's, starting them launch.c's.
 *
 * IDENTIFICATION
 *	  extension/registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "registry.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/* How many records the session keeps at most (finished workers go first). */
#define PGBG_MAX_RECORDS		1000

/* How many characters of the SQL text a record keeps. */
#define PGBG_SQL_PREVIEW_CHARS	120

/* The records, oldest first (the list and its records: TopMemoryContext). */
static List *records = NIL;

/* The workers whose segment we hold, keyed by process ID (TopMemoryContext). */
static HTAB *worker_table = NULL;

/* How many entries the table has lost; a reader rechecks its entry then. */
uint64		pgbg_worker_table_changes = 0;

/* Have we registered our transaction callbacks yet? */
static bool callbacks_registered = false;

/* Counters since the session started. */
static int64 n_launched = 0;
static int64 n_completed = 0;
static int64 n_failed = 0;
static int64 n_canceled = 0;
static double run_ms_sum = 0;
static int64 run_ms_count = 0;

static pg_background_record *create_record(int32 pid, const char *sql,
										   Size sql_len,
										   pg_background_fixed *fixed,
										   BackgroundWorkerHandle *handle);
static void release_record(pg_background_record *record, bool finished,
						   pgbg_consumed_by how);
static bool settle_from_segment(pg_background_record *record,
								pg_background_fixed *fixed);
static int64 new_cookie(void);
static void evict_record(void);
static void ensure_worker_table(void);
static void pgbg_xact_callback(XactEvent event, void *arg);
static void pgbg_subxact_callback(SubXactEvent event,
								  SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);

/*
 * pgbg_register_worker
 *
 * Remember a worker that has just attached to its queue: a record, and an
 * entry for the segment (seg, with the queue's receiving end mqh, its
 * fixed part and its copy of the SQL text).
 */
pg_background_record *
pgbg_register_worker(int32 pid, const char *sql, Size sql_len,
					 dsm_segment *seg, shm_mq_handle *mqh,
					 pg_background_fixed *fixed, const char *sql_copy,
					 BackgroundWorkerHandle *handle)
{
	pg_background_record *record;
	pg_background_worker *entry;
	bool		found;

	/* This may let go of the segments of ended workers */
	record = create_record(pid, sql, sql_len, fixed, handle);

	/*
	 * A process ID can only be in the table twice if an old worker exited
	 * unread long ago and the kernel reused its ID: drop the stale entry,
	 * whose end is final.
	 */
	ensure_worker_table();
	entry = hash_search(worker_table, &pid, HASH_ENTER, &found);
	if (found)
	{
		if (!entry->queue_detached && !entry->record->discard)
			ereport(WARNING,
					(errmsg("discarding the unread results of an earlier background worker with PID %d",
							pid)));
		if (!entry->queue_detached)
			shm_mq_detach(entry->mqh);
		release_record(entry->record, true, PGBG_CONSUMED_DETACHED);
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
 * pgbg_lookup_handle
 *
 * The record of handle (pid, cookie).  A process ID the session knows
 * with another cookie is a wrong cookie, or a stale handle: a worker that
 * is gone, whose process ID a later worker of this session got.
 */
pg_background_record *
pgbg_lookup_handle(int32 pid, int64 cookie)
{
	ListCell   *lc;
	pg_background_record *latest = NULL;

	foreach(lc, records)
	{
		pg_background_record *record = lfirst(lc);

		if (record->pid != pid)
			continue;
		if (record->cookie == cookie)
			return record;
		latest = record;
	}

	if (latest == NULL)
		pgbg_error_not_attached(pid);

	/* Only the latest worker with that process ID can still be running */
	pgbg_refresh_record(latest);
	if (latest->gone || latest->state != PGBG_STATE_RUNNING)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cookie " INT64_FORMAT " does not match the background worker with PID %d",
						cookie, pid),
				 errhint("The worker of this session with that process ID has ended, and its cookie is another: use the handle that pg_background_launch_v2 or pg_background_submit_v2 returned.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cookie " INT64_FORMAT " does not match the background worker with PID %d",
					cookie, pid),
			 errhint("The worker with that process ID is running, and its cookie is another: use the handle that pg_background_launch_v2 or pg_background_submit_v2 returned.")));
	pg_unreachable();
}

/*
 * pgbg_records
 *
 * The records, oldest first, up to date.
 */
List *
pgbg_records(void)
{
	pgbg_refresh_records();
	return records;
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
	release_record(worker->record, finished, how);
	worker->record->entry = NULL;
	dsm_detach(worker->seg);

	hash_search(worker_table, &pid, HASH_REMOVE, NULL);
	pgbg_worker_table_changes++;
}

/*
 * pgbg_refresh_records
 *
 * Bring every record up to date: ask the postmaster about workers not
 * known to be gone, read the end of those whose segment we hold, and let
 * go of the segments of submitted and detached workers that have ended.
 */
void
pgbg_refresh_records(void)
{
	ListCell   *lc;

	foreach(lc, records)
	{
		pg_background_record *record = lfirst(lc);

		if (!record->gone || record->state == PGBG_STATE_RUNNING ||
			record->entry != NULL)
			pgbg_refresh_record(record);
	}
}

/*
 * pgbg_refresh_record
 *
 * Learn what can be learnt about one worker.  The postmaster is asked
 * first: a worker writes its end into the segment before it exits, so
 * once it is gone what the segment says is final.
 */
void
pgbg_refresh_record(pg_background_record *record)
{
	pid_t		pid;

	if (!record->gone &&
		GetBackgroundWorkerPid(record->handle, &pid) == BGWH_STOPPED)
		record->gone = true;

	if (record->state == PGBG_STATE_RUNNING && record->entry != NULL)
		(void) settle_from_segment(record, record->entry->fixed);

	if (record->state == PGBG_STATE_RUNNING && record->gone)
	{
		if (record->cancel_requested)
			pgbg_record_ended(record, PGBG_STATE_CANCELED, NULL);
		else if (record->entry != NULL)
			pgbg_record_ended(record, PGBG_STATE_ERROR,
							  "background worker exited without reporting its end");
		else
			pgbg_record_ended(record, PGBG_STATE_STOPPED, NULL);	/* end not known */
	}

	/* Nothing more will come from a submitted or detached worker that ended */
	if (record->entry != NULL && record->state != PGBG_STATE_RUNNING &&
		(record->discard || record->entry->queue_detached) &&
		!record->entry->reading)
		pgbg_forget_worker(record->entry, true, PGBG_CONSUMED_NOT);
}

/*
 * pgbg_refresh_progress
 *
 * Take over the worker's last report while the session holds its segment.
 */
void
pgbg_refresh_progress(pg_background_record *record)
{
	pg_background_fixed *fixed;
	int32		pct;
	bool		has_msg;
	char		msg[PGBG_PROGRESS_MSG_SIZE];

	if (record->entry == NULL)
		return;
	fixed = record->entry->fixed;

	pct = pgbg_segment_read_progress(fixed, &has_msg, msg);

	if (pct == record->progress.pct &&
		has_msg == (record->progress.msg != NULL) &&
		(!has_msg || strcmp(msg, record->progress.msg) == 0))
		return;

	if (record->progress.msg != NULL)
		pfree(record->progress.msg);
	record->progress.pct = pct;
	record->progress.msg = has_msg ?
		MemoryContextStrdup(TopMemoryContext, msg) : NULL;
}

/*
 * pgbg_record_ended
 *
 * A running worker has ended, in state (with the message of its error, or
 * NULL): count it.  The first end known is final.
 */
void
pgbg_record_ended(pg_background_record *record, pgbg_state state,
				  const char *error)
{
	if (record->state != PGBG_STATE_RUNNING)
		return;

	record->state = state;
	if (error != NULL)
		record->last_error = MemoryContextStrdup(TopMemoryContext, error);

	switch (state)
	{
		case PGBG_STATE_STOPPED:
			n_completed++;
			break;
		case PGBG_STATE_ERROR:
			n_failed++;
			break;
		case PGBG_STATE_CANCELED:
			n_canceled++;
			break;
		case PGBG_STATE_RUNNING:
			break;
	}

	if (record->run_ms >= 0)
	{
		run_ms_sum += record->run_ms;
		run_ms_count++;
	}
}

/*
 * pgbg_held_segments
 *
 * How many workers' segments the session holds (running, unread, or
 * detached and not yet ended), and the bytes of their queues.
 */
void
pgbg_held_segments(long *count, int64 *bytes)
{
	HASH_SEQ_STATUS status;
	pg_background_worker *worker;

	*count = 0;
	*bytes = 0;
	if (worker_table == NULL)
		return;

	hash_seq_init(&status, worker_table);
	while ((worker = hash_seq_search(&status)) != NULL)
	{
		(*count)++;
		*bytes += worker->fixed->queue_size;
	}
}

/*
 * pgbg_running_workers
 *
 * How many of the session's workers are still running, as far as we know
 * now.
 */
int
pgbg_running_workers(void)
{
	ListCell   *lc;
	int			running = 0;

	pgbg_refresh_records();
	foreach(lc, records)
	{
		if (((pg_background_record *) lfirst(lc))->state == PGBG_STATE_RUNNING)
			running++;
	}
	return running;
}

/*
 * pgbg_stats
 *
 * The session's counters; avg_ms is negative if no worker has reported
 * its run time yet.
 */
void
pgbg_stats(int64 *launched, int64 *completed, int64 *failed,
		   int64 *canceled, int32 *active, double *avg_ms)
{
	pgbg_refresh_records();
	*launched = n_launched;
	*completed = n_completed;
	*failed = n_failed;
	*canceled = n_canceled;
	*active = (int32) (n_launched - n_completed - n_failed - n_canceled);
	*avg_ms = run_ms_count > 0 ? run_ms_sum / run_ms_count : -1;
}

/*
 * pgbg_state_name
 *
 * The name pg_background_list_v2 shows.
 */
const char *
pgbg_state_name(pgbg_state state)
{
	switch (state)
	{
		case PGBG_STATE_RUNNING:
			return "running";
		case PGBG_STATE_STOPPED:
			return "stopped";
		case PGBG_STATE_CANCELED:
			return "canceled";
		case PGBG_STATE_ERROR:
			return "error";
	}
	return "unknown";
}

/*
 * create_record
 *
 * The record of a worker that has just attached to its queue, making room
 * for it first.
 */
static pg_background_record *
create_record(int32 pid, const char *sql, Size sql_len,
			  pg_background_fixed *fixed, BackgroundWorkerHandle *handle)
{
	pg_background_record *record;
	MemoryContext oldcontext;

	evict_record();

	oldcontext = MemoryContextSwitchTo(TopMemoryContext);
	record = palloc0(sizeof(pg_background_record));
	record->pid = pid;
	record->cookie = new_cookie();
	record->launched_at = fixed->launched_at;
	record->user_id = GetUserId();
	record->queue_size = fixed->queue_size;
	record->sql_preview = pnstrdup(sql,
								   pg_mbcharcliplen(sql, (int) Min(sql_len, INT_MAX),
													PGBG_SQL_PREVIEW_CHARS));
	record->discard = fixed->discard_results;
	record->state = PGBG_STATE_RUNNING;
	record->run_ms = -1;
	record->progress.pct = PGBG_NO_PROGRESS;
	record->handle = handle;
	records = lappend(records, record);
	MemoryContextSwitchTo(oldcontext);

	n_launched++;
	return record;
}

/*
 * release_record
 *
 * The session lets go of the worker's segment, because of how.  Its last
 * progress report is kept; if the worker's final message has been read
 * (finished), the segment says how it ended.
 */
static void
release_record(pg_background_record *record, bool finished,
			   pgbg_consumed_by how)
{
	if (record->consumed_by == PGBG_CONSUMED_NOT)
		record->consumed_by = how;
	if (record->entry == NULL)
		return;
	pgbg_refresh_progress(record);
	if (finished)
	{
		record->finished = true;
		(void) settle_from_segment(record, record->entry->fixed);
	}
}

/*
 * settle_from_segment
 *
 * If the worker has reported its end in the segment, take it over.
 */
static bool
settle_from_segment(pg_background_record *record, pg_background_fixed *fixed)
{
	uint32		outcome;
	TimestampTz finished_at;
	const char *last_error;

	if (record->state != PGBG_STATE_RUNNING)
		return true;

	outcome = pgbg_segment_read_end(fixed, &finished_at, &last_error);
	if (outcome == PGBG_OUTCOME_NONE)
		return false;

	record->run_ms = (double) (finished_at - record->launched_at) / 1000.0;
	if (outcome == PGBG_OUTCOME_DONE)
		pgbg_record_ended(record, PGBG_STATE_STOPPED, NULL);
	else if (record->cancel_requested)
		pgbg_record_ended(record, PGBG_STATE_CANCELED, NULL);	/* our cancel's error */
	else
		pgbg_record_ended(record, PGBG_STATE_ERROR, last_error);
	return true;
}

/*
 * new_cookie
 *
 * A random positive number that tells a worker from any later one that
 * gets the same process ID.
 */
static int64
new_cookie(void)
{
	uint64		cookie;

	if (!pg_strong_random(&cookie, sizeof(cookie)))
		cookie = ((uint64) MyProcPid << 32) ^ (uint64) GetCurrentTimestamp();
	cookie &= PG_INT64_MAX;
	return (int64) cookie;
}

/*
 * evict_record
 *
 * Make room for one more record by forgetting the oldest worker that is
 * gone and whose segment we no longer hold.
 */
static void
evict_record(void)
{
	ListCell   *lc;

	if (list_length(records) < PGBG_MAX_RECORDS)
		return;

	pgbg_refresh_records();
	foreach(lc, records)
	{
		pg_background_record *record = lfirst(lc);

		if (record->gone && record->entry == NULL)
		{
			records = foreach_delete_current(records, lc);
			pfree(record->handle);
			pfree(record->sql_preview);
			if (record->last_error != NULL)
				pfree(record->last_error);
			if (record->progress.msg != NULL)
				pfree(record->progress.msg);
			pfree(record);
			return;
		}
	}
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
