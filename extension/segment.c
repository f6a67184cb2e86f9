/*-------------------------------------------------------------------------
 *
 * segment.c
 *	  The dynamic shared memory segment of one launch, and what the two
 *	  processes tell each other through it besides the result queue.
 *
 *	  The launching session builds the segment: a shm_toc holding the fixed
 *	  part (who the worker must become, how it must run), the SQL text, the
 *	  caller's settings and the result queue.  The worker attaches to it,
 *	  writes its progress reports into the fixed part under a spinlock, and
 *	  at its end how it ended: the outcome word last, after a write barrier,
 *	  so that the session can read it (after a read barrier) whether or not
 *	  it ever reads the results.
 *
 * IDENTIFICATION
 *	  extension/segment.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "segment.h"
#include "storage/proc.h"
#include "storage/shm_toc.h"

/*
 * pgbg_segment_create
 *
 * Create the segment for one launch: who to run as, the SQL text, our
 * settings (see gucstate.c) and the result queue, with us as its receiver.
 */
dsm_segment *
pgbg_segment_create(const char *sql, Size sql_len, StringInfo settings,
					int32 queue_size, bool discard, int32 worker_timeout_ms,
					shm_mq **mq, pg_background_fixed **fixed,
					const char **sql_copy)
{
	shm_toc_estimator e;
	shm_toc    *toc;
	dsm_segment *seg;
	Size		segsize;
	char	   *sqlp;
	char	   *settingsp;

	/* Size everything */
	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(pg_background_fixed));
	shm_toc_estimate_chunk(&e, sql_len + 1);
	shm_toc_estimate_chunk(&e, (Size) settings->len + 1);
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
	(*fixed)->worker_timeout_ms = worker_timeout_ms;
	(*fixed)->discard_results = discard;
	(*fixed)->worker_pid = 0;
	(*fixed)->finished_at = 0;
	(*fixed)->last_error[0] = '\0';
	pg_atomic_init_u32(&(*fixed)->outcome, PGBG_OUTCOME_NONE);

	/* No progress reported yet */
	SpinLockInit(&(*fixed)->progress_lock);
	(*fixed)->progress_pct = PGBG_NO_PROGRESS;
	(*fixed)->progress_has_msg = false;
	(*fixed)->progress_msg[0] = '\0';
	shm_toc_insert(toc, PG_BACKGROUND_KEY_FIXED, *fixed);

	/* What it must run */
	sqlp = shm_toc_allocate(toc, sql_len + 1);
	memcpy(sqlp, sql, sql_len);
	sqlp[sql_len] = '\0';
	shm_toc_insert(toc, PG_BACKGROUND_KEY_SQL, sqlp);
	*sql_copy = sqlp;

	/* With which settings */
	settingsp = shm_toc_allocate(toc, (Size) settings->len + 1);
	memcpy(settingsp, settings->data, settings->len + 1);
	(*fixed)->settings_len = (uint32) settings->len;
	shm_toc_insert(toc, PG_BACKGROUND_KEY_SETTINGS, settingsp);

	/* Where the results go */
	*mq = shm_mq_create(shm_toc_allocate(toc, (Size) queue_size),
						(Size) queue_size);
	shm_toc_insert(toc, PG_BACKGROUND_KEY_QUEUE, *mq);
	shm_mq_set_receiver(*mq, MyProc);

	return seg;
}

/*
 * pgbg_segment_attach
 *
 * In the worker: map the segment the launching session prepared, for as
 * long as the process lives, and find its parts.
 */
dsm_segment *
pgbg_segment_attach(Datum main_arg, pg_background_fixed **fixed, char **sql,
					char **settings, shm_mq **mq)
{
	dsm_segment *seg;
	shm_toc    *toc;

	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map dynamic shared memory segment")));
	dsm_pin_mapping(seg);
	toc = shm_toc_attach(PG_BACKGROUND_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bad magic number in dynamic shared memory segment")));
	*fixed = shm_toc_lookup(toc, PG_BACKGROUND_KEY_FIXED, false);
	*sql = shm_toc_lookup(toc, PG_BACKGROUND_KEY_SQL, false);
	*settings = shm_toc_lookup(toc, PG_BACKGROUND_KEY_SETTINGS, false);
	*mq = shm_toc_lookup(toc, PG_BACKGROUND_KEY_QUEUE, false);

	return seg;
}

/*
 * pgbg_segment_report_end
 *
 * In the worker: write how it ended, once (the first report counts): done,
 * or an error with its message (len bytes at message, or none).  The
 * outcome word is written last.
 */
void
pgbg_segment_report_end(pg_background_fixed *fixed, uint32 outcome,
						const char *message, size_t len)
{
	if (pg_atomic_read_u32(&fixed->outcome) != PGBG_OUTCOME_NONE)
		return;

	fixed->finished_at = GetCurrentTimestamp();
	if (outcome == PGBG_OUTCOME_ERROR)
	{
		fixed->last_error[0] = '\0';
		if (message != NULL)
			strlcpy(fixed->last_error, message,
					Min(len + 1, sizeof(fixed->last_error)));
	}
	pg_write_barrier();
	pg_atomic_write_u32(&fixed->outcome, outcome);
}

/*
 * pgbg_segment_read_end
 *
 * In the launching session: how the worker ended, PGBG_OUTCOME_NONE if it
 * has not said yet; otherwise also when, and the message of its error
 * (which lives in the segment).
 */
uint32
pgbg_segment_read_end(pg_background_fixed *fixed, TimestampTz *finished_at,
					  const char **last_error)
{
	uint32		outcome;

	outcome = pg_atomic_read_u32(&fixed->outcome);
	if (outcome == PGBG_OUTCOME_NONE)
		return outcome;
	pg_read_barrier();

	*finished_at = fixed->finished_at;
	*last_error = fixed->last_error;
	return outcome;
}

/*
 * pgbg_segment_write_progress
 *
 * In the worker: its progress report, pct and a message of len bytes (or
 * none, msg NULL and len 0), replacing the last one.
 */
void
pgbg_segment_write_progress(pg_background_fixed *fixed, int32 pct,
							const char *msg, int len)
{
	SpinLockAcquire(&fixed->progress_lock);
	fixed->progress_pct = pct;
	fixed->progress_has_msg = msg != NULL;
	if (msg != NULL)
		memcpy(fixed->progress_msg, msg, len);
	fixed->progress_msg[len] = '\0';
	SpinLockRelease(&fixed->progress_lock);
}

/*
 * pgbg_segment_read_progress
 *
 * In the launching session: the worker's last report, its percentage
 * returned (PGBG_NO_PROGRESS if none) and its message copied into msg, of
 * PGBG_PROGRESS_MSG_SIZE bytes.
 */
int32
pgbg_segment_read_progress(pg_background_fixed *fixed, bool *has_msg,
						   char *msg)
{
	int32		pct;

	SpinLockAcquire(&fixed->progress_lock);
	pct = fixed->progress_pct;
	*has_msg = fixed->progress_has_msg;
	memcpy(msg, fixed->progress_msg, PGBG_PROGRESS_MSG_SIZE);
	SpinLockRelease(&fixed->progress_lock);
	msg[PGBG_PROGRESS_MSG_SIZE - 1] = '\0';

	return pct;
}
