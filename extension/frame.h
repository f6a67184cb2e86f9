/*-------------------------------------------------------------------------
 *
 * frame.h
 *	  The protocol over the result queue: message types, format codes and
 *	  the frames that carry them (see frame.c for the reading side).
 *
 * IDENTIFICATION
 *	  extension/frame.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_FRAME_H
#define PGBG_FRAME_H

#include "lib/stringinfo.h"
#include "storage/shm_mq.h"

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
 * The reading end: the queue message being consumed, a batch of frames,
 * which lives in the queue until the next receive.
 */
typedef struct pgbg_frame_reader
{
	const char *batch;
	Size		batch_len;
	Size		batch_pos;
	bool		flowing;		/* the last batch came without a wait */
} pgbg_frame_reader;

extern bool pgbg_frame_receive(pgbg_frame_reader *reader, shm_mq_handle *mqh);
extern void pgbg_frame_next(pgbg_frame_reader *reader, char *msgtype,
							const char **body, uint32 *len);
extern void pgbg_frame_reset(pgbg_frame_reader *reader);

/*
 * pgbg_frame_pending
 *
 * Does the current batch hold another frame?  If not, the next one must be
 * received first.
 */
static inline bool
pgbg_frame_pending(const pgbg_frame_reader *reader)
{
	return reader->batch_pos < reader->batch_len;
}

/*
 * pgbg_frame_message
 *
 * Point a StringInfo at a frame's body, so that the pq_getmsg* functions
 * can parse it in place (PostgreSQL 16 has initReadOnlyStringInfo for
 * this; 14 and 15 do not).
 */
static inline void
pgbg_frame_message(StringInfo msg, const char *body, uint32 len)
{
	msg->data = (char *) body;
	msg->len = len;
	msg->maxlen = len;
	msg->cursor = 0;
}

#endif							/* PGBG_FRAME_H */
