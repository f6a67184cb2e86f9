/*-------------------------------------------------------------------------
 *
 * frame.c
 *	  The launching session's end of the result queue: receive the worker's
 *	  batches, polling briefly for the next one while rows flow, and split
 *	  them into frames, one message of the protocol each (see frame.h; the
 *	  worker's end is mqcomm.c).
 *
 * IDENTIFICATION
 *	  extension/frame.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "compat.h"
#include "frame.h"
#include "miscadmin.h"
#include "pgstat.h"

/* Polling for the next batch of a flowing result: at most 1 ms */
#define PGBG_POLL_INTERVAL_US	100
#define PGBG_POLL_TRIES			10

static shm_mq_result receive_batch(pgbg_frame_reader *reader,
								   shm_mq_handle *mqh, Size *nbytes,
								   void **data);

/*
 * pgbg_frame_receive
 *
 * Receive the next batch from the queue.  Returns false if the queue was
 * detached (the worker is gone).
 */
bool
pgbg_frame_receive(pgbg_frame_reader *reader, shm_mq_handle *mqh)
{
	Size		nbytes;
	void	   *data;

	if (receive_batch(reader, mqh, &nbytes, &data) != SHM_MQ_SUCCESS)
		return false;
	reader->batch = data;
	reader->batch_len = nbytes;
	reader->batch_pos = 0;
	return true;
}

/*
 * pgbg_frame_next
 *
 * Return the next message of the current batch (see pgbg_frame_pending).
 * The body points into the batch, which is valid until the next receive.
 */
void
pgbg_frame_next(pgbg_frame_reader *reader, char *msgtype, const char **body,
				uint32 *len)
{
	uint32		len32;

	if (reader->batch_len - reader->batch_pos < PGBG_FRAME_HEADER_SIZE)
		elog(ERROR, "truncated message from background worker");
	*msgtype = reader->batch[reader->batch_pos];
	memcpy(&len32, reader->batch + reader->batch_pos + 1, sizeof(len32));
	reader->batch_pos += PGBG_FRAME_HEADER_SIZE;
	if (reader->batch_len - reader->batch_pos < len32)
		elog(ERROR, "truncated message from background worker");
	*body = reader->batch + reader->batch_pos;
	*len = len32;
	reader->batch_pos += len32;
}

/*
 * pgbg_frame_reset
 *
 * Forget the current batch: the queue is no longer read.
 */
void
pgbg_frame_reset(pgbg_frame_reader *reader)
{
	reader->batch = NULL;
	reader->batch_len = reader->batch_pos = 0;
}

/*
 * receive_batch
 *
 * Receive the next queue message.  While rows are flowing, the next batch
 * is usually a fraction of a millisecond away: poll for it briefly rather
 * than sleep on our latch, which the worker, the busier side of a large
 * result, would have to wake with a signal for every single batch.  If
 * nothing comes, wait on the latch as usual.
 */
static shm_mq_result
receive_batch(pgbg_frame_reader *reader, shm_mq_handle *mqh, Size *nbytes,
			  void **data)
{
	shm_mq_result res;
	int			i;

	res = shm_mq_receive(mqh, nbytes, data, true);
	if (res != SHM_MQ_WOULD_BLOCK)
	{
		reader->flowing = true;
		return res;
	}

	if (reader->flowing)
	{
		for (i = 0; i < PGBG_POLL_TRIES; i++)
		{
			pgstat_report_wait_start(PGBG_WAIT_EVENT_MQ_RECEIVE);
			pg_usleep(PGBG_POLL_INTERVAL_US);
			pgstat_report_wait_end();
			CHECK_FOR_INTERRUPTS();
			res = shm_mq_receive(mqh, nbytes, data, true);
			if (res != SHM_MQ_WOULD_BLOCK)
				return res;
		}
		reader->flowing = false;
	}

	return shm_mq_receive(mqh, nbytes, data, false);
}
