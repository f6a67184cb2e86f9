/*-------------------------------------------------------------------------
 *
 * mqcomm.h
 *	  The worker's client connection: the result queue, written in batches
 *	  of frames (see mqcomm.c).
 *
 * IDENTIFICATION
 *	  extension/mqcomm.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_MQCOMM_H
#define PGBG_MQCOMM_H

#include "lib/stringinfo.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"

#include "segment.h"

/*
 * The frames waiting to be sent.  mqdest.c writes each DataRow straight
 * into it, between pgbg_mq_begin_row and pgbg_mq_end_row.
 */
extern PGDLLIMPORT StringInfoData pgbg_mq_batch;

extern void pgbg_redirect_output(dsm_segment *seg, shm_mq_handle *mqh,
								 pg_background_fixed *fixed);
extern bool pgbg_mq_sending(void);
extern char *pgbg_mq_begin_row(Size len);
extern void pgbg_mq_end_row(void);

/*
 * pgbg_mq_batch_room
 *
 * Make room for len more bytes at the end of the batch (and its
 * terminator), and return where they go; the caller then adds len to
 * pgbg_mq_batch.len.  Inline: one comparison per column while the batch
 * has room, which is almost always.
 */
static inline char *
pgbg_mq_batch_room(Size len)
{
	if ((Size) (pgbg_mq_batch.maxlen - pgbg_mq_batch.len) <= len)
		enlargeStringInfo(&pgbg_mq_batch, len);
	return pgbg_mq_batch.data + pgbg_mq_batch.len;
}

#endif							/* PGBG_MQCOMM_H */
