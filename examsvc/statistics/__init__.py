"""Progress (考试进度) and statistics (考核统计) of a cycle, for the agency and the health
authority (read-only): figures counted by the database, drill-downs, the XLSX export."""
