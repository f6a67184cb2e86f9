/*-------------------------------------------------------------------------
 *
 * rowdecode.h
 *	  Turning the worker's rows into rows of the caller's column definition
 *	  list (see rowdecode.c).
 *
 * IDENTIFICATION
 *	  extension/rowdecode.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_ROWDECODE_H
#define PGBG_ROWDECODE_H

#include "access/tupdesc.h"
#include "fmgr.h"

/*
 * The decoding of one pg_background_result call's rows: what the column
 * definition list wants, how each column of the current result set
 * arrives, and the row decoded last (values, nulls).
 */
typedef struct pgbg_row_decoder
{
	/* The column definition list and how to convert text into it */
	TupleDesc	tupdesc;
	int			natts;
	FmgrInfo   *infuncs;
	Oid		   *ioparams;
	int32	   *typmods;
	Datum	   *values;
	bool	   *nulls;
	char	   *scratch;		/* one column value, NUL-terminated */
	Size		scratch_size;
	char	   *images;			/* aligned copies of a row's datum images */
	Size		images_size;

	/* How each column of the current result set arrives */
	int		   *modes;			/* COLUMN_TEXT, COLUMN_IMAGE, ... */
	int16	   *remote_typlen;	/* for images */
	bool	   *remote_typbyval;
	FmgrInfo   *remote_outfuncs;	/* for COLUMN_IMAGE_CONVERT */
	bool		all_images;		/* every column is COLUMN_IMAGE: a row's
								 * values point into the row and images,
								 * and need no memory of their own */

	MemoryContext cxt;			/* where the decoder's arrays live */

	/*
	 * Called before each column of a DataRow: the input function of a
	 * column may have run SQL that let go of the memory the row lives in.
	 */
	void		(*before_column) (void *arg);
	void	   *arg;
} pgbg_row_decoder;

extern void pgbg_decoder_init(pgbg_row_decoder *dec, TupleDesc tupdesc,
							  void (*before_column) (void *arg), void *arg);
extern void pgbg_check_row_description(pgbg_row_decoder *dec,
									   const char *body, uint32 len);
extern void pgbg_check_tag_shape(pgbg_row_decoder *dec);
extern void pgbg_decode_row(pgbg_row_decoder *dec, const char *body,
							uint32 len);
extern void pgbg_decode_tag(pgbg_row_decoder *dec, const char *tag);

#endif							/* PGBG_ROWDECODE_H */
