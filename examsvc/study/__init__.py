"""Study mode (我要学习): mock papers, never counted."""
