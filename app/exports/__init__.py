"""Raw exports of the activities in scope: CSV streamed, XLSX written by a background job."""
